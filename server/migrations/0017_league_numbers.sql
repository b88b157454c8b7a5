-- 17: issued league reports are numbered like bulletins, in their own
-- gapless series per year of issue ([2026] 月评第 1 期), so an office can
-- cite one as it cites a bulletin. Months issued before this migration keep
-- no number (their rows never change); every later issue takes one.
ALTER TABLE league_months ADD COLUMN year INTEGER;
ALTER TABLE league_months ADD COLUMN sequence INTEGER;
ALTER TABLE league_months ADD COLUMN number TEXT;
CREATE UNIQUE INDEX league_months_number ON league_months (year, sequence) WHERE sequence IS NOT NULL;

-- The numbering invariant, held by the database itself as for bulletins:
-- every issue from now on takes exactly the next number of its year.
CREATE TRIGGER league_months_numbers_are_gapless BEFORE INSERT ON league_months
BEGIN
    SELECT RAISE(ABORT, 'an issued league report must take the next number of its year')
    WHERE NEW.year IS NULL OR NEW.sequence IS NULL OR NEW.number IS NULL
       OR NEW.sequence != (SELECT coalesce(max(sequence), 0) + 1 FROM league_months WHERE year = NEW.year);
END;
