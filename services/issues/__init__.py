"""Issues as Slack users meet them.

`service` reads and changes issues within JIRA_PROJECTS; `keys` recognises issue keys in text;
`cache` keeps issues seen by previews and unfurls; `create` builds the create-issue form and
turns its answers into Jira fields; `links` ties issues to channels and messages; `app_home`
gathers what a person's App Home shows.
"""
