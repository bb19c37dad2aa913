"""The rules every layer shares, each in one place: result codes, what the stores can hold, phone numbers, message state, time."""
