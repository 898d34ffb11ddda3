"""The laboratory quality system: instruments, reagents, analysts, method versions, OOS, deviations."""
