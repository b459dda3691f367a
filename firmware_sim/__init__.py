"""The simulated robot body: a virtual MCU on a PTY (mcu, pty), the senior's world and days
(world, band, body), scenario files (scenario, scenarios/) and the fleet simulator (fleet/)."""
