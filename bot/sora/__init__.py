"""The provider layer: one normalized model of a Sora video job over every relay dialect."""
