"""The OpenAI API: pure translations (``translate``) between its wire shapes and ours."""
