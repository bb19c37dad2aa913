"""The provider boundary: each SMS provider's wire format behind one package."""
