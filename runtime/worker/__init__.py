"""Workers: the main loop, consume loop, pools, settling, heartbeats, redelivery, limits."""
