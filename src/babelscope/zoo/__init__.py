"""Models the project makes: training recipes and model cards (babel-mini)."""
