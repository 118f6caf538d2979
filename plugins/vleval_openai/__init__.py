"""vleval model plugin for OpenAI-compatible chat-completions servers (vLLM, SGLang, LMDeploy, TGI...)."""
