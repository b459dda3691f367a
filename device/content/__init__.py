"""The companion's content: stories, quizzes, songs, exercise prompts and memory games."""
