"""What the robot says: prompts in Korean and English, and the voice that speaks them."""
