"""The conversion: read → normalise → map → masters check → validate → detail lines and slips."""
