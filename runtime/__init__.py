"""The STARFACE-style PBX host: Java core, JPype shim, module manager, licensing, web."""
