"""After analysis: smoothing and gap filling, labeled videos, offline triangulation."""
