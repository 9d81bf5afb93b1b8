"""The .sfm format as STARFACE defines it, shared by the vendor's build and the host.

It holds the format's rules and nothing else: the integrity hashes, the JAR manifest's
main section, a parser safe for untrusted descriptors, and our XSD of the descriptor; and the
one TOML reader both parts refuse bad files with (`toml_file`). It imports neither `sfm_build`
nor `runtime`, so the build and the host stay apart.
"""
