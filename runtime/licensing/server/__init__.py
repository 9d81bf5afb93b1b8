"""The vendor's licence service (`sfm licence-server`): purchases, e-mailed codes, licences."""
