"""The Ollama API: wire types (``wire``), pure translations (``translate``) and thin routes."""
