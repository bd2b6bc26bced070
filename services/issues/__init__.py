"""Issues as Slack users meet them.

`service` reads and changes issues within JIRA_PROJECTS; `keys` recognises issue keys in text;
`cache` keeps issues seen by previews and unfurls; `create` builds the create-issue form and
turns its answers into Jira fields; `creation` does what follows the form (the description's
source line, linking the message, its files, telling the person where they acted); `links`
ties issues to channels and messages; `app_home` gathers what a person's App Home shows;
`card_parts` holds the buttons and block ids that every message about an issue shares (the
handlers' card and the worker's notifications).
"""
