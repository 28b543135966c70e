"""The school roster (花名册): reading workbooks or CSV folders, importing them all-or-nothing,
and listing binding codes for counsellors to hand out."""
