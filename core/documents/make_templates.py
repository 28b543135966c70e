"""Builds the .docx templates in ``templates/`` (run by hand after changing their layout:
``python -m core.documents.make_templates``). Each ``{{字段}}`` placeholder is written as one run
so that filling keeps its font. Chinese text is set in 宋体 (SimSun) through ``w:eastAsia``, titles
in 黑体 (SimHei), as Word on Chinese Windows expects."""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

TEMPLATES = Path(__file__).parent / "templates"
BODY_FONT = ("Times New Roman", "宋体")
TITLE_FONT = ("Times New Roman", "黑体")
# Issue 24: room to sign and stamp. An official seal is 4.0–4.2 cm across; a signature needs
# about 2 cm. Opinion boxes that take a seal are at least 4 cm tall, the others 3 cm; on the
# certificates the school's name, where the seal goes, has 3 cm free above it.
SEAL_BOX = Cm(4)
SIGNATURE_BOX = Cm(3)
SEAL_SPACE = Cm(3)


def set_font(run_or_style, fonts: tuple[str, str], size: float | None = None, bold=None) -> None:
    """Latin and East Asian font of a run or style (python-docx sets only the Latin one)."""
    font = run_or_style.font
    font.name = fonts[0]
    if size is not None:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    element = run_or_style.element
    rpr = element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, rfonts)
    rfonts.set(qn("w:eastAsia"), fonts[1])
    rfonts.set(qn("w:ascii"), fonts[0])
    rfonts.set(qn("w:hAnsi"), fonts[0])


def _document():
    doc = Document()
    set_font(doc.styles["Normal"], BODY_FONT, 12)
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)  # A4
    section.left_margin = section.right_margin = Cm(2.5)
    section.top_margin = section.bottom_margin = Cm(2.5)
    return doc


def _para(doc_or_cell, parts, align=None, fonts=BODY_FONT, size=12, bold=False, space=6):
    """A paragraph of text and placeholders, each part one run."""
    p = doc_or_cell.add_paragraph()
    if align is not None:
        p.alignment = align
    p.paragraph_format.space_after = Pt(space)
    for part in parts if isinstance(parts, list | tuple) else [parts]:
        set_font(p.add_run(part), fonts, size, bold)
    return p


def _cell(cell, parts, bold=False, align=None) -> None:
    cell.text = ""
    p = cell.paragraphs[0]
    if align is not None:
        p.alignment = align
    for part in parts if isinstance(parts, list | tuple) else [parts]:
        set_font(p.add_run(part), BODY_FONT, 11, bold)


def application_form() -> None:
    """第六条 附件：哈尔滨音乐学院兼职班主任业务审批表."""
    doc = _document()
    _para(doc, "{{学校}}兼职班主任业务审批表", WD_ALIGN_PARAGRAPH.CENTER, TITLE_FONT, 18, True, 12)
    _para(doc, ["填表日期：", "{{填表日期}}"], WD_ALIGN_PARAGRAPH.RIGHT, size=10.5)
    rows = [
        (("姓名", "{{姓名}}"), ("工号", "{{工号}}")),
        (("所在党总支", "{{党总支}}"), ("角色", "兼职班主任")),
        (("拟带班级", "{{班级}}"), ("班级类型", "{{班级类型}}")),
        (("年级", "{{年级}}"), ("岗前培训", "{{岗前培训}}")),
        (("拟聘期", "{{聘期}}"), ("流程状态", "{{流程状态}}")),
    ]
    table = doc.add_table(rows=0, cols=4)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for (k1, v1), (k2, v2) in rows:
        cells = table.add_row().cells
        _cell(cells[0], k1, bold=True)
        _cell(cells[1], v1)
        _cell(cells[2], k2, bold=True)
        _cell(cells[3], v2)
    boxes = [
        (
            "个人申请",
            ["{{申请说明}}", "\n本人自愿申请担任兼职班主任，符合第五条所列条件。"],
            "申请人签字：                  日期：",
            SIGNATURE_BOX,
        ),
        ("党总支初审意见", ["{{党总支意见}}"], "负责人签字（盖章）：          日期：", SEAL_BOX),
        ("学生处审核意见", ["{{学生处意见}}"], "负责人签字（盖章）：          日期：", SEAL_BOX),
        ("人事处备案", ["{{人事处意见}}"], "经办人签字（盖章）：          日期：", SEAL_BOX),
    ]
    for label, text, signature, height in boxes:
        row = table.add_row()
        row.height = height
        row.height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
        cells = row.cells
        _cell(cells[0], label, bold=True)
        cells[0].vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
        merged = cells[1].merge(cells[2]).merge(cells[3])
        _cell(merged, text)
        # The signature line at the bottom of the box, the space above it left to write and
        # stamp in.
        merged.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP
        p = merged.add_paragraph()
        p.paragraph_format.space_before = height - Cm(2)
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        set_font(p.add_run(signature), BODY_FONT, 11)
    # Labels narrow, values wide (16 cm of text width), so that a class name or a period
    # fits on one line; a merged box keeps the width of the three columns it spans.
    widths = (Cm(3.0), Cm(5.6), Cm(2.6), Cm(4.8))
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
    for row in table.rows[: len(rows)]:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = width
    for row in table.rows[len(rows) :]:
        row.cells[0].width = widths[0]
    _para(
        doc,
        "说明：依据《{{学校}}本科生兼职班主任队伍建设实施办法（试行）》第六条、第九条，"
        "由专业教师本人申请，党总支择优录用，聘任结果报学生处和人事处备案。",
        size=10,
        space=0,
    )
    doc.save(TEMPLATES / "application.docx")


def _certificate(title: str, salutation: list[str], body: list[str], space: float):
    """A certificate page: its title, the salutation, and the body paragraph (indented)."""
    doc = _document()
    for _ in range(3):
        _para(doc, "")
    _para(doc, title, WD_ALIGN_PARAGRAPH.CENTER, TITLE_FONT, 36, True, 30)
    _para(doc, salutation, size=16, space=18)
    _para(doc, body, size=16, space=space).paragraph_format.first_line_indent = Pt(32)
    return doc


def _sign_and_save(doc, date: str, name: str) -> None:
    """The school and the date at the bottom right, with room above for the seal, then save
    as ``templates/<name>``."""
    school = _para(doc, "{{学校}}", WD_ALIGN_PARAGRAPH.RIGHT, size=16)
    school.paragraph_format.space_before = SEAL_SPACE
    _para(doc, date, WD_ALIGN_PARAGRAPH.RIGHT, size=16)
    doc.save(TEMPLATES / name)


def appointment_letter() -> None:
    """第九条 3：学院统一签发兼职班主任任职聘书."""
    doc = _certificate(
        "聘　书",
        ["{{姓名}}", " 老师："],
        [
            "兹聘请您为",
            "{{学校}}",
            " ",
            "{{班级}}",
            " 兼职班主任，聘期自 ",
            "{{开始日期}}",
            " 至 ",
            "{{结束日期}}",
            "。",
        ],
        space=18,
    )
    _para(doc, ["编号：", "{{编号}}"], size=12, space=12)
    _sign_and_save(doc, "{{签发日期}}", "appointment.docx")


def honour_certificate() -> None:
    """第十九条：为优秀兼职班主任颁发荣誉证书."""
    doc = _certificate(
        "荣誉证书",
        ["{{姓名}}", " 老师（", "{{党总支}}", "）："],
        [
            "您在 ",
            "{{学年}}",
            " 学年担任 ",
            "{{班级}}",
            " 兼职班主任期间（",
            "{{任职期间}}",
            "），工作成绩突出，连续两个学期考核为优秀，被评为 ",
            "{{学年}}",
            " 学年度“先进兼职班主任”。",
        ],
        space=12,
    )
    _para(doc, "特发此证，以资鼓励。", size=16, space=12).paragraph_format.first_line_indent = Pt(
        32
    )
    _sign_and_save(doc, "{{颁发日期}}", "award.docx")


def _grid(doc, header: list[str], prefix: str, fields: list[str], widths: list[float]):
    """A table with a bold header row and one row of ``{{prefix.field}}`` placeholders, which
    filling repeats once per record (core.documents.fill)."""
    table = doc.add_table(rows=2, cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, label in zip(table.rows[0].cells, header, strict=True):
        _cell(cell, label, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    for cell, name in zip(table.rows[1].cells, fields, strict=True):
        _cell(cell, "{{" + f"{prefix}.{name}" + "}}")
    for i, width in enumerate(widths):
        table.columns[i].width = Cm(width)
        for row in table.rows:
            row.cells[i].width = Cm(width)
    return table


def _box(table, label: str, signature: str, height) -> None:
    """A row of ``table`` (two columns): the label, and a box with the signature line at its
    bottom and the space above left to write and stamp in."""
    row = table.add_row()
    row.height = height
    row.height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
    cells = row.cells
    _cell(cells[0], label, bold=True)
    cells[0].vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    cells[1].vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP
    p = cells[1].add_paragraph()
    p.paragraph_format.space_before = height - Cm(2)
    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    set_font(p.add_run(signature), BODY_FONT, 11)


def logbook() -> None:
    """第十六条：兼职班主任工作日志本 for one 聘期, with the branch's counts and its seal."""
    doc = _document()
    _para(doc, "{{学校}}兼职班主任工作日志本", WD_ALIGN_PARAGRAPH.CENTER, TITLE_FONT, 18, True, 12)
    _para(doc, ["生成日期：", "{{生成日期}}"], WD_ALIGN_PARAGRAPH.RIGHT, size=10.5)
    info = doc.add_table(rows=0, cols=4)
    info.style = "Table Grid"
    info.alignment = WD_TABLE_ALIGNMENT.CENTER
    for (k1, v1), (k2, v2) in (
        (("姓名", "{{姓名}}"), ("工号", "{{工号}}")),
        (("所在党总支", "{{党总支}}"), ("日志条数", "{{条数}}")),
    ):
        cells = info.add_row().cells
        _cell(cells[0], k1, bold=True)
        _cell(cells[1], v1)
        _cell(cells[2], k2, bold=True)
        _cell(cells[3], v2)
    for label, value in (("所带班级", "{{班级}}"), ("聘期", "{{聘期}}")):
        cells = info.add_row().cells
        _cell(cells[0], label, bold=True)
        _cell(cells[1].merge(cells[2]).merge(cells[3]), value)
    widths = (Cm(3.0), Cm(5.6), Cm(2.6), Cm(4.8))
    for row in info.rows:
        row.cells[0].width = widths[0]
    for row in info.rows[:2]:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = width

    _para(
        doc, "一、工作记录", fonts=TITLE_FONT, size=14, space=6
    ).paragraph_format.space_before = Pt(12)
    _grid(
        doc,
        ["序号", "日期", "工作类型", "班级", "内容"],
        "记录",
        ["序号", "日期", "类型", "班级", "内容"],
        [1.2, 2.6, 2.4, 2.8, 7.0],
    )
    _para(doc, "二、对照党总支要求的完成情况", fonts=TITLE_FONT, size=14, space=6)
    _grid(
        doc,
        ["工作类型", "每月要求", "聘期应完成", "已记录", "完成情况"],
        "要求",
        ["类型", "每月", "应完成", "已记录", "情况"],
        [3.6, 2.4, 2.8, 2.4, 4.8],
    )
    _para(doc, "{{统计说明}}", size=10.5, space=6)
    _para(doc, "三、审核", fonts=TITLE_FONT, size=14, space=6)
    review = doc.add_table(rows=0, cols=2)
    review.style = "Table Grid"
    review.alignment = WD_TABLE_ALIGNMENT.CENTER
    _box(review, "本人确认", "兼职班主任签字：                  日期：", SIGNATURE_BOX)
    _box(review, "党总支审核意见", "负责人签字（盖章）：          日期：", SEAL_BOX)
    for row in review.rows:
        row.cells[0].width, row.cells[1].width = Cm(3.0), Cm(13.0)
    _para(
        doc,
        "说明：依据《{{学校}}本科生兼职班主任队伍建设实施办法（试行）》第十六条，工作日志是"
        "兼职班主任考核、评优和职称评定的重要依据。",
        size=10,
        space=0,
    )
    doc.save(TEMPLATES / "logbook.docx")


def service_certificate() -> None:
    """第十八条：任职证明, every 聘期 with its class and each term's published grade."""
    doc = _document()
    _para(doc, "")
    _para(doc, "任职证明", WD_ALIGN_PARAGRAPH.CENTER, TITLE_FONT, 26, True, 24)
    _para(
        doc,
        [
            "兹证明 ",
            "{{姓名}}",
            " 同志（工号：",
            "{{工号}}",
            "，",
            "{{党总支}}",
            "）在",
            "{{学校}}",
            "担任本科生兼职班主任，任职情况如下：",
        ],
        size=14,
        space=12,
    ).paragraph_format.first_line_indent = Pt(28)
    _grid(
        doc,
        ["序号", "聘期", "班级", "各学期考核等级"],
        "聘期",
        ["序号", "起止", "班级", "等级"],
        [1.2, 5.4, 3.6, 5.8],
    )
    _para(
        doc,
        "考核等级依据《{{学校}}本科生兼职班主任队伍建设实施办法（试行）》第十五条评定；"
        "尚未公布的学期不列等级。",
        size=10.5,
        space=12,
    ).paragraph_format.space_before = Pt(6)
    _para(doc, "特此证明。", size=14, space=12).paragraph_format.first_line_indent = Pt(28)
    _sign_and_save(doc, "{{开具日期}}", "service.docx")


def main() -> None:
    TEMPLATES.mkdir(exist_ok=True)
    application_form()
    appointment_letter()
    honour_certificate()
    logbook()
    service_certificate()


if __name__ == "__main__":
    main()
