-- Round-robin assignment inside a skill group ([[rotation]] in forewarn.toml): per group, who
-- had the last turn and how many turns were taken.
CREATE TABLE rotations (
    skill_group  TEXT    PRIMARY KEY,
    last_user    TEXT    NOT NULL,
    turns        BIGINT  NOT NULL,
    at_ms        BIGINT  NOT NULL
);
