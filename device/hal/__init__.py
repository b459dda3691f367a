"""The hardware layer: the MCU's serial protocol (codec, messages) and the HAL stage."""
