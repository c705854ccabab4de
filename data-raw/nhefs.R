# Build the bundled `nhefs` dataset (data/nhefs.rda).
#
# Run by hand from the package root:
#     Rscript data-raw/nhefs.R
# This script is not part of the package build (data-raw/ is in .Rbuildignore).
#
# Source: the NHEFS smoking-cessation cohort (1629 cigarette smokers aged
# 25-74 at the 1971-75 baseline examination) as used in Hernan & Robins,
# "Causal Inference: What If", as cleaned and distributed in the CRAN package
# 'causaldata' (Huntington-Klein & Barrett), object `causaldata::nhefs`.
#
# Notes on the causaldata version (see its data-raw/clean_nhefs.R):
#   * `id`, `censored` (= is.na(wt82)) and `older` (= age > 50) were added by
#     causaldata; they are not in the book's original nhefs.csv.
#   * causaldata re-derives `education` from `school` (< 9, 9-11, 12, 13-15,
#     >= 16 years) and stores sex, race, education, exercise and active as
#     factors whose levels are the numeric codes ("0", "1", ...).

if (!requireNamespace("causaldata", quietly = TRUE)) {
  stop("Package 'causaldata' is needed: install.packages(\"causaldata\")")
}

raw <- causaldata::nhefs
stopifnot(nrow(raw) == 1629L, ncol(raw) == 67L)

# ---- plain data.frame without haven/Stata-style label attributes ----------
nhefs <- as.data.frame(raw, stringsAsFactors = FALSE)
# (the codebook text in these labels is reproduced in R/data-nhefs.R)
for (v in names(nhefs)) {
  attr(nhefs[[v]], "label") <- NULL
}
rownames(nhefs) <- NULL

# ---- factor recodes with readable labels -----------------------------------
# causaldata stores these as factors with the numeric codes as levels, so go
# through as.character() to recover the codes.
code_of <- function(x) as.integer(as.character(x))

recode_factor <- function(x, codes, labels) {
  cx <- code_of(x)
  stopifnot(all(is.na(cx) | cx %in% codes))
  out <- factor(cx, levels = codes, labels = labels)
  # counts per level must be identical to counts per original code
  stopifnot(
    identical(as.vector(table(out, useNA = "always")),
              as.vector(table(factor(cx, levels = codes), useNA = "always"))),
    identical(is.na(out), is.na(cx))
  )
  out
}

orig_codes <- lapply(nhefs[c("sex", "race", "education", "exercise", "active")],
                     code_of)

# codebook: "0: MALE 1: FEMALE"
nhefs$sex <- recode_factor(nhefs$sex, 0:1, c("male", "female"))
# codebook: "0: WHITE 1: BLACK OR OTHER IN 1971"
nhefs$race <- recode_factor(nhefs$race, 0:1, c("white", "other"))
# codebook: "1: 8TH GRADE OR LESS, 2: HS DROPOUT, 3: HS, 4:COLLEGE DROPOUT,
#            5: COLLEGE OR MORE"
nhefs$education <- recode_factor(
  nhefs$education, 1:5,
  c("8th grade or less", "HS dropout", "HS", "college dropout",
    "college or more")
)
# codebook: "0:much exercise,1:moderate exercise,2:little or no exercise"
nhefs$exercise <- recode_factor(
  nhefs$exercise, 0:2,
  c("much exercise", "moderate exercise", "little or no exercise")
)
# codebook: "0:very active, 1:moderately active, 2:inactive"
# (only codes 0, 1, 2 occur in the data)
nhefs$active <- recode_factor(
  nhefs$active, 0:2,
  c("very active", "moderately active", "inactive")
)

# explicit per-level count checks against the original codes
stopifnot(
  sum(nhefs$sex == "male")   == sum(orig_codes$sex == 0),
  sum(nhefs$sex == "female") == sum(orig_codes$sex == 1),
  sum(nhefs$race == "white") == sum(orig_codes$race == 0),
  sum(nhefs$race == "other") == sum(orig_codes$race == 1),
  all(as.integer(nhefs$education) == orig_codes$education),
  all(as.integer(nhefs$exercise) - 1L == orig_codes$exercise),
  all(as.integer(nhefs$active) - 1L == orig_codes$active),
  !anyNA(nhefs$sex), !anyNA(nhefs$race), !anyNA(nhefs$education),
  !anyNA(nhefs$exercise), !anyNA(nhefs$active)
)

# ---- outcome / treatment checks ---------------------------------------------
stopifnot(
  is.numeric(nhefs$qsmk), all(nhefs$qsmk %in% 0:1),
  is.numeric(nhefs$death), all(nhefs$death %in% 0:1),
  sum(is.na(nhefs$wt82_71)) == 63L,
  # deaths have a year (83..92) and month of death
  all(!is.na(nhefs$yrdth[nhefs$death == 1])),
  all(!is.na(nhefs$modth[nhefs$death == 1])),
  all(nhefs$yrdth[nhefs$death == 1] %in% 83:92),
  all(is.na(nhefs$yrdth[nhefs$death == 0]))
)

# ---- censoring indicator (What If, chapter 12) -------------------------------
# causaldata already ships `censored` = is.na(wt82); recompute it from wt82_71
# and check that both definitions agree.
censored_new <- as.numeric(is.na(nhefs$wt82_71))
if ("censored" %in% names(nhefs)) {
  stopifnot(identical(as.numeric(nhefs$censored), censored_new))
}
nhefs$censored <- censored_new

# ---- survival time (What If, chapter 17) -------------------------------------
# Months of follow-up from January 1983 until death or end of follow-up in
# December 1992 (120 months for survivors), as in the book's R code.
# Note: 4 survivors have a non-missing modth/dadth but no yrdth; they are
# correctly given 120 months because death == 0.
nhefs$survtime <- ifelse(nhefs$death == 0, 120,
                         (nhefs$yrdth - 83) * 12 + nhefs$modth)
stopifnot(
  !anyNA(nhefs$survtime),
  all(nhefs$survtime[nhefs$death == 0] == 120),
  all(nhefs$survtime[nhefs$death == 1] >= 1),
  all(nhefs$survtime[nhefs$death == 1] <= 120)
)

# ---- final checks and save -----------------------------------------------
stopifnot(
  nrow(nhefs) == 1629L,
  sum(!is.na(nhefs$wt82_71)) == nrow(causaldata::nhefs_complete),
  all(vapply(nhefs, function(x) is.null(attr(x, "label")), logical(1))),
  identical(class(nhefs), "data.frame")
)

dir.create("data", showWarnings = FALSE)
save(nhefs, file = "data/nhefs.rda", compress = "xz", version = 2)

# ---- summary -----------------------------------------------------------------
cat("nhefs:", nrow(nhefs), "rows x", ncol(nhefs), "columns\n")
cat("missing wt82_71 (censored):", sum(nhefs$censored), "\n")
cat("deaths by 1992:", sum(nhefs$death), "\n")
cat("mean wt82_71 (kg) by qsmk:\n")
print(round(tapply(nhefs$wt82_71, nhefs$qsmk, mean, na.rm = TRUE), 4))
cat("crude difference (quitters - non-quitters):",
    round(diff(tapply(nhefs$wt82_71, nhefs$qsmk, mean, na.rm = TRUE)), 4),
    "kg\n")
print(tools::checkRdaFiles("data"))
