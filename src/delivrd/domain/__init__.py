"""The vocabulary and rules every layer shares, each in one place: pushes and their outcomes, result codes,
message state, what the stores can hold, phone numbers, time, retention."""
