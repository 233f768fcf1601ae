"""The desk's pages, one `APIRouter` module for each: `account` (sign-in, sign-out, password,
notices), `home` (the home page, templates, uploads), `returns` (a return, its feedback, its
explanations and review), `boards` (the board, the late list, 催报, a period's approval)."""
