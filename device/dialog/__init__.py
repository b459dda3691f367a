"""Understanding and conversation: what the senior's words mean and how the robot answers."""
