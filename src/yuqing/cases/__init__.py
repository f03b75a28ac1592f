"""Cases: the plan's response to an event, stage by stage, on the working-day clock."""
