"""yuqing: public-opinion monitoring and emergency response."""

__version__ = "0.1.0"
