"""The robot's ears: audio sources, voice activity detection, offline speech recognition."""
