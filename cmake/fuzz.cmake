# libFuzzer targets for the parsers (docs/development.md, "Fuzz").
#
# Normal builds link each target with crypto/fuzz/replay_main.cpp and register a ctest that
# replays its committed corpus, so every build (g++, sanitizers) checks the seeds and past
# findings. -DTIPLINE_FUZZ=ON (clang only; scripts/fuzz) builds real libFuzzer binaries.
option(TIPLINE_FUZZ "Build the fuzz targets with libFuzzer (clang) instead of replay" OFF)

if(TIPLINE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TIPLINE_FUZZ needs clang (CXX=clang++), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  # -UNDEBUG keeps the library's assert()s live in the RelWithDebInfo build scripts/fuzz makes.
  set(TIPLINE_FUZZ_SANITIZERS -fsanitize=address,undefined -fno-sanitize-recover=all
                              -fno-omit-frame-pointer -UNDEBUG)
endif()

# Coverage feedback needs the library under test instrumented too, not just the targets.
# Its consumers then need the sanitizer runtimes, hence the INTERFACE link option.
function(tipline_fuzz_instrument LIBRARY)
  if(TIPLINE_FUZZ)
    target_compile_options(${LIBRARY} PRIVATE -fsanitize=fuzzer-no-link ${TIPLINE_FUZZ_SANITIZERS})
    target_link_options(${LIBRARY} INTERFACE -fsanitize=address,undefined)
  endif()
endfunction()

# fuzz_NAME from SOURCE, fuzzing LIBRARY, whose private headers (../src) it may include; its
# corpus is corpus/NAME beside the calling CMakeLists.txt.
function(tipline_fuzz_target NAME SOURCE LIBRARY)
  set(target fuzz_${NAME})
  set(corpus ${CMAKE_CURRENT_SOURCE_DIR}/corpus/${NAME})
  add_executable(${target} ${SOURCE})
  target_include_directories(${target}
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/../src ${PROJECT_SOURCE_DIR}/crypto/fuzz)
  target_link_libraries(${target} PRIVATE ${LIBRARY})
  if(TIPLINE_FUZZ)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer ${TIPLINE_FUZZ_SANITIZERS})
    target_link_options(${target} PRIVATE -fsanitize=fuzzer,address,undefined)
    # -runs=0 executes the corpus once without mutating it.
    add_test(NAME fuzz.${NAME} COMMAND ${target} -runs=0 ${corpus})
  else()
    target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/crypto/fuzz/replay_main.cpp)
    add_test(NAME fuzz.${NAME} COMMAND ${target} ${corpus})
  endif()
endfunction()
