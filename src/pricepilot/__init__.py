"""pricepilot: real-time personalised pricing and promotions for online shops."""

__version__ = "0.1.0"
