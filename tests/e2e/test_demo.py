"""The offline demo: what `make run` shows on a fresh clone with no credentials."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_tells_the_story_and_exits_0(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    story = result.stdout
    assert "Traceback" not in story + result.stderr
    # the bug report, the issue created from it, its card in the thread
    assert "#support · Bob Baker:" in story
    assert "[modal for Alice Adams] Create Jira issue" in story
    assert "#support > thread · Connect:" in story
    assert "OPS-4" in story and "Checkout returns a 500" in story
    # Jira's changes land in the thread
    assert (
        "*Carol Chen* moved <https://jira.example.com/browse/OPS-4|OPS-4> To Do → In Progress"
        in story
    )
    assert "Rolled back the 10:00 deploy" in story
    # a synced thread: Bob's reply becomes a Jira comment, Carol's comment comes back once
    assert "turned on sync with *OPS-4*" in story
    assert "— Bob Baker (via Slack): https://demo.slack.com/archives/C0SUPPORT/" in story
    assert (
        "*Carol Chen* commented on <https://jira.example.com/browse/OPS-4|OPS-4>:\n"
        "      >Thanks Bob!" in story
    )
    assert (
        "commented on <https://jira.example.com/browse/OPS-4|OPS-4>:\n      >Confirmed" not in story
    )
    # Carol, mapped to her Jira account, is DMed when Alice assigns her the issue.
    assert "DM to Carol Chen · Connect:" in story
    dm = story[story.index("DM to Carol Chen · Connect:") :]
    assert "*Alice Adams* assigned" in dm and "to *Carol Chen*" in dm
    assert "you are assigned" in dm
    # search finds it
    assert "1 issue for “checkout”" in story
    # a key mentioned in another channel gets a preview in its thread
    assert "#ops > thread · Connect:" in story
    assert "[Assign to me] [Transition… ▾] [Comment] [Open in Jira]" in story
    # a subscribed channel hears of a new issue
    assert "Subscribed this channel (#1) to project *OPS*" in story
    assert "*Carol Chen* created <https://jira.example.com/browse/OPS-5|OPS-5>" in story
    # JIRA_AUTH_MODE=user: Alice connects through the consent page and acts as herself
    assert "Alice's browser: Connected as Alice Adams; you can close this tab" in story
    assert "In Jira, OPS-1's new comment is by Alice Adams" in story
    assert "Connect your Jira account first" in story  # Bob, not connected
    assert not list(tmp_path.iterdir())  # a temporary database, left nowhere


def test_interactive_mode_answers_what_is_typed(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env["PYTHONPATH"] = str(ROOT)
    typed = "/jira show OPS-1\n:jira move OPS-1 Done\nhello OPS-2\n:quit\n"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--interactive"],
        env=env,
        cwd=tmp_path,
        input=typed,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Nightly database backup fails on replica" in result.stdout
    assert "#support · Alice Adams:" in result.stdout
