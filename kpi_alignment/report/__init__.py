"""The alignment report: findings gathered from the published marts, rendered as JSON, HTML and Markdown."""
