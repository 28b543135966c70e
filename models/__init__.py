"""The banzhuren domain as SQLAlchemy 2 models. No Flask here."""

from models.admin import ApiToken, AuditLog, LoginLock, User, UserRole
from models.appointment import Appointment, AppointmentStatus
from models.base import Base
from models.binding import BindingFailure, WeChatBinding
from models.evaluation import Award, Grade, TermEvaluation
from models.links import ChatLink
from models.meetings import Incident, IncidentKind, Meeting, MeetingKind, meeting_attendance
from models.messaging import DialogueState, OutboundMessage, ReceivedMessage, WeChatAccessToken
from models.org import (
    ClassKind,
    Department,
    SchoolClass,
    Student,
    Teacher,
    TeacherRole,
    class_members,
)
from models.reach import RoundContact, TermClosedDate, WeChatContact
from models.survey import (
    Answer,
    Ballot,
    CommentReview,
    Response,
    SealedEnvelope,
    Survey,
    SurveyDraft,
    SurveyRound,
)
from models.term import Term
from models.worklog import (
    EmploymentOutcome,
    LogKind,
    LogRequirement,
    Reminder,
    StudentFeedback,
    WorkLogAttachment,
    WorkLogEntry,
    worklog_students,
)

__all__ = [
    "Answer",
    "ApiToken",
    "Appointment",
    "AppointmentStatus",
    "AuditLog",
    "Award",
    "Ballot",
    "Base",
    "BindingFailure",
    "ChatLink",
    "ClassKind",
    "CommentReview",
    "Department",
    "DialogueState",
    "EmploymentOutcome",
    "Grade",
    "Incident",
    "IncidentKind",
    "LogKind",
    "LogRequirement",
    "LoginLock",
    "Meeting",
    "MeetingKind",
    "OutboundMessage",
    "ReceivedMessage",
    "Reminder",
    "Response",
    "RoundContact",
    "SchoolClass",
    "SealedEnvelope",
    "Student",
    "StudentFeedback",
    "Survey",
    "SurveyDraft",
    "SurveyRound",
    "Teacher",
    "TeacherRole",
    "Term",
    "TermClosedDate",
    "TermEvaluation",
    "User",
    "UserRole",
    "WeChatAccessToken",
    "WeChatBinding",
    "WeChatContact",
    "WorkLogAttachment",
    "WorkLogEntry",
    "class_members",
    "meeting_attendance",
    "worklog_students",
]
