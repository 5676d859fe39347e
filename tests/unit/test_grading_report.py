"""`make grade` says that it reads the saved notebooks, and when each was last saved."""

import os
import time


from relucourse.tooling.grading import NotebookResult, Report, Row, format_report, grade_notebook


def test_report_says_it_grades_the_saved_files_and_when_each_was_saved():
    nb = NotebookResult("exercises/04_dying_relu.ipynb", True, rows=[Row("4.1", "passed", "3/3 checks")],
                        saved="2026-12-06 14:02:11")
    lines = format_report(Report([nb])).splitlines()
    assert lines[1] == "Graded as saved on disk: save in Jupyter (Ctrl+S) first."
    assert lines[-2:] == ["Last saved (save with Ctrl+S to grade newer work):",
                          "  exercises/04_dying_relu.ipynb  2026-12-06 14:02:11"]
    assert "exercises/04_dying_relu.ipynb\n  4.1    passed" in "\n".join(lines)  # the block is as before


def test_the_saved_time_is_the_files_modification_time(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("{not json")  # unreadable: graded without a kernel, still dated
    stamp = time.mktime((2026, 1, 2, 3, 4, 5, 0, 0, -1))
    os.utime(path, (stamp, stamp))
    assert grade_notebook(path, counted=False).saved == "2026-01-02 03:04:05"
