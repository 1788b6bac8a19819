"One module per section of bench.py: `TITLE`, `measure(ctx) -> dict` (the numbers) and `markdown(s, R) -> list[str]`."
