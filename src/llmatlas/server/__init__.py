"""The HTTP server: OpenAI- and Ollama-compatible APIs, llmatlas's own API and the UI."""
