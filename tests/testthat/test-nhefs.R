test_that("nhefs has the expected shape and classes", {
  expect_s3_class(nhefs, "data.frame")
  expect_identical(class(nhefs), "data.frame")
  expect_equal(nrow(nhefs), 1629L)
  expect_true(all(c("seqn", "qsmk", "death", "yrdth", "modth", "wt71",
                    "wt82", "wt82_71", "censored", "survtime") %in%
                    names(nhefs)))
  expect_true(is.numeric(nhefs$qsmk))
  expect_setequal(unique(nhefs$qsmk), c(0, 1))
  expect_setequal(unique(nhefs$death), c(0, 1))
  # no leftover Stata-style labels
  has_label <- vapply(nhefs, function(x) !is.null(attr(x, "label")),
                      logical(1))
  expect_false(any(has_label))
})

test_that("missing weight change and the censoring indicator agree", {
  expect_equal(sum(is.na(nhefs$wt82_71)), 63L)
  expect_equal(sum(!is.na(nhefs$wt82_71)), 1566L)
  expect_equal(as.numeric(nhefs$censored), as.numeric(is.na(nhefs$wt82_71)))
  expect_equal(sum(nhefs$censored == 1), 63L)
  expect_equal(sum(stats::complete.cases(nhefs["wt82_71"])), 1566L)
})

test_that("factor recodes have the expected levels", {
  expect_s3_class(nhefs$sex, "factor")
  expect_identical(levels(nhefs$sex), c("male", "female"))
  expect_identical(levels(nhefs$race), c("white", "other"))
  expect_identical(
    levels(nhefs$education),
    c("8th grade or less", "HS dropout", "HS", "college dropout",
      "college or more")
  )
  expect_identical(
    levels(nhefs$exercise),
    c("much exercise", "moderate exercise", "little or no exercise")
  )
  expect_identical(levels(nhefs$active),
                   c("very active", "moderately active", "inactive"))
  for (v in c("sex", "race", "education", "exercise", "active")) {
    expect_false(anyNA(nhefs[[v]]), label = v)
  }
  # known marginal counts of the cohort
  expect_equal(as.vector(table(nhefs$sex)), c(799L, 830L))
  expect_equal(as.vector(table(nhefs$race)), c(1414L, 215L))
  # education is consistent with years of school
  expect_true(all(nhefs$school[nhefs$education == "HS"] == 12))
  expect_true(all(nhefs$school[nhefs$education == "8th grade or less"] <= 8))
})

test_that("survtime follows the What If chapter 17 definition", {
  alive <- nhefs$death == 0
  expect_false(anyNA(nhefs$survtime))
  expect_true(all(nhefs$survtime[alive] == 120))
  expect_true(all(nhefs$survtime[!alive] >= 1))
  expect_true(all(nhefs$survtime[!alive] <= 120))
  expect_equal(sum(!alive), 318L)
  expect_equal(
    nhefs$survtime[!alive],
    (nhefs$yrdth[!alive] - 83) * 12 + nhefs$modth[!alive]
  )
})

test_that("crude difference in weight change matches What If (about 2.5 kg)", {
  fit <- stats::lm(wt82_71 ~ qsmk, data = nhefs)
  means <- tapply(nhefs$wt82_71, nhefs$qsmk, mean, na.rm = TRUE)
  crude <- unname(means[["1"]] - means[["0"]])
  expect_equal(unname(stats::coef(fit)[["qsmk"]]), crude, tolerance = 1e-10)
  expect_equal(unname(stats::coef(fit)[["(Intercept)"]]),
               unname(means[["0"]]), tolerance = 1e-10)
  expect_gt(crude, 2.4)
  expect_lt(crude, 2.6)
  expect_equal(stats::nobs(fit), 1566L)
})
