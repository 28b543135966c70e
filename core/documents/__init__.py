"""Word documents the policy names: the 兼职班主任业务审批表 (第六条, 附件), the 聘书 (第九条) and the
荣誉证书 for 先进兼职班主任 (第十九条), filled from .docx templates kept in this package."""
