"""Activity and fall models from the wrist band's IMU."""
