"""The book's tooling: graded checks, the progress report, the exercise generator, notebook
execution and timing, and the Sphinx extension. The lesson helpers live one level up."""
