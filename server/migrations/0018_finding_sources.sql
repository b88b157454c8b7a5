-- 18: who found a problem (市级督查 / 区级督查 / 第三方), which the monthly
-- league weighs differently. An inspector works for one body (set when the
-- office adds the alias, changeable for later findings); each finding keeps
-- the body its inspector worked for when it arrived, so changing an
-- inspector never rewrites a scored month. Everything before this
-- migration was the city office's own.
ALTER TABLE inspectors ADD COLUMN source TEXT NOT NULL DEFAULT 'city'
    CHECK (source IN ('city', 'district', 'third_party'));
ALTER TABLE findings ADD COLUMN source TEXT NOT NULL DEFAULT 'city'
    CHECK (source IN ('city', 'district', 'third_party'));
