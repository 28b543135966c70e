"""The chat dialogue: from an incoming WeChat message to a reply, by the sender's role."""
