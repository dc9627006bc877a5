"""python -m accel.ops > docs/ops.md: the op reference, generated from the op table."""

import accel  # noqa: F401  (every op module fills the table)
from accel.ops import table

print(table.reference(), end="")
