"""The STARFACE-style PBX host: Java core, routing host, module processes, module manager,
licensing, web."""
