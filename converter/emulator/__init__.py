"""Local emulator of the TKC FX cloud API.

It imports nothing from the rest of the converter on purpose: it reads the FX reference on its own,
so one misreading of the reference cannot pass both the client and the emulator.
"""
