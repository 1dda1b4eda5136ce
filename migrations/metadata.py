"""Imports every package's tables so that migrations see the whole schema."""

import booking.models  # noqa: F401
import core.models  # noqa: F401
import experience.models  # noqa: F401
import makerspace.models  # noqa: F401
