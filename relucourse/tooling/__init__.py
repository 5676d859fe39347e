"""The book's tooling: graded checks, the progress report, the exercise generator, notebook
execution and timing, and the Sphinx extension. The lesson helpers live one level up."""

#: Text the exercise stubs raise; the checker recognises it as "not attempted yet". Defined here,
#: outside the checks (which load PyTorch), so that the exercise generator starts quickly.
STUB_MARKER = "write your solution here"
