"""工作日志 (第十六条) by chat: parsing head teachers' messages, storing entries, counting them."""
