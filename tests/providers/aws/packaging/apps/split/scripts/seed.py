"""A script no function imports: every zip keeps it (it may be run or imported by name at run time)."""

print("seeding")
