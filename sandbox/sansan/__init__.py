"""A local stand-in of the Sansan Open API (business cards, 名刺): cards, persons and tags over HTTP."""
