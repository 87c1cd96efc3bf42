"""The local runtime: the whole engine on one machine, against an embedded AWS emulator (moto)."""
