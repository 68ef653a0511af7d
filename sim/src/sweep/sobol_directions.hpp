// Direction numbers of the Sobol' sequence for its first 64 dimensions, from
// the file new-joe-kuo-6.21201 of
//
//   S. Joe and F. Y. Kuo, "Constructing Sobol sequences with better
//   two-dimensional projections", SIAM J. Sci. Comput. 30 (2008) 2635-2654,
//   https://web.maths.unsw.edu.au/~fkuo/sobol/
//
// Row d (2..64) gives the degree s of the primitive polynomial, the number a
// whose bits are its inner coefficients, and the initial direction numbers
// m_1..m_s. Dimension 1 is the van der Corput sequence (every m = 1) and has
// no row. Checked against three independent copies of the published table.
//
// Licence pertaining to sobol.cc and the accompanying sets of direction numbers:
//
// Copyright (c) 2008, Frances Y. Kuo and Stephen Joe
// All rights reserved.
//
// Redistribution and use in source and binary forms, with or without
// modification, are permitted provided that the following conditions are met:
//
//     * Redistributions of source code must retain the above copyright
//       notice, this list of conditions and the following disclaimer.
//
//     * Redistributions in binary form must reproduce the above copyright
//       notice, this list of conditions and the following disclaimer in the
//       documentation and/or other materials provided with the distribution.
//
//     * Neither the names of the copyright holders nor the names of the
//       University of New South Wales and the University of Waikato
//       and its contributors may be used to endorse or promote products derived
//       from this software without specific prior written permission.
//
// THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS ``AS IS'' AND ANY
// EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
// WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
// DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDERS BE LIABLE FOR ANY
// DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES
// (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES;
// LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND
// ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT
// (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS
// SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace talentsim::sobol {

struct DirectionRow {
  std::uint32_t s;                 // degree of the primitive polynomial
  std::uint32_t a;                 // its coefficients a_1..a_{s-1}, a_1 the highest bit
  std::array<std::uint32_t, 9> m;  // m_1..m_s (odd, m_k < 2^k); the rest 0
};

inline constexpr std::size_t kDimensions = 64;

// Rows for dimensions 2..64: kRows[d - 2].
inline constexpr std::array<DirectionRow, kDimensions - 1> kRows{{
    {1, 0, {1}},                                   // d = 2
    {2, 1, {1, 3}},                                // d = 3
    {3, 1, {1, 3, 1}},                             // d = 4
    {3, 2, {1, 1, 1}},                             // d = 5
    {4, 1, {1, 1, 3, 3}},                          // d = 6
    {4, 4, {1, 3, 5, 13}},                         // d = 7
    {5, 2, {1, 1, 5, 5, 17}},                      // d = 8
    {5, 4, {1, 1, 5, 5, 5}},                       // d = 9
    {5, 7, {1, 1, 7, 11, 19}},                     // d = 10
    {5, 11, {1, 1, 5, 1, 1}},                      // d = 11
    {5, 13, {1, 1, 1, 3, 11}},                     // d = 12
    {5, 14, {1, 3, 5, 5, 31}},                     // d = 13
    {6, 1, {1, 3, 3, 9, 7, 49}},                   // d = 14
    {6, 13, {1, 1, 1, 15, 21, 21}},                // d = 15
    {6, 16, {1, 3, 1, 13, 27, 49}},                // d = 16
    {6, 19, {1, 1, 1, 15, 7, 5}},                  // d = 17
    {6, 22, {1, 3, 1, 15, 13, 25}},                // d = 18
    {6, 25, {1, 1, 5, 5, 19, 61}},                 // d = 19
    {7, 1, {1, 3, 7, 11, 23, 15, 103}},            // d = 20
    {7, 4, {1, 3, 7, 13, 13, 15, 69}},             // d = 21
    {7, 7, {1, 1, 3, 13, 7, 35, 63}},              // d = 22
    {7, 8, {1, 3, 5, 9, 1, 25, 53}},               // d = 23
    {7, 14, {1, 3, 1, 13, 9, 35, 107}},            // d = 24
    {7, 19, {1, 3, 1, 5, 27, 61, 31}},             // d = 25
    {7, 21, {1, 1, 5, 11, 19, 41, 61}},            // d = 26
    {7, 28, {1, 3, 5, 3, 3, 13, 69}},              // d = 27
    {7, 31, {1, 1, 7, 13, 1, 19, 1}},              // d = 28
    {7, 32, {1, 3, 7, 5, 13, 19, 59}},             // d = 29
    {7, 37, {1, 1, 3, 9, 25, 29, 41}},             // d = 30
    {7, 41, {1, 3, 5, 13, 23, 1, 55}},             // d = 31
    {7, 42, {1, 3, 7, 3, 13, 59, 17}},             // d = 32
    {7, 50, {1, 3, 1, 3, 5, 53, 69}},              // d = 33
    {7, 55, {1, 1, 5, 5, 23, 33, 13}},             // d = 34
    {7, 56, {1, 1, 7, 7, 1, 61, 123}},             // d = 35
    {7, 59, {1, 1, 7, 9, 13, 61, 49}},             // d = 36
    {7, 62, {1, 3, 3, 5, 3, 55, 33}},              // d = 37
    {8, 14, {1, 3, 1, 15, 31, 13, 49, 245}},       // d = 38
    {8, 21, {1, 3, 5, 15, 31, 59, 63, 97}},        // d = 39
    {8, 22, {1, 3, 1, 11, 11, 11, 77, 249}},       // d = 40
    {8, 38, {1, 3, 1, 11, 27, 43, 71, 9}},         // d = 41
    {8, 47, {1, 1, 7, 15, 21, 11, 81, 45}},        // d = 42
    {8, 49, {1, 3, 7, 3, 25, 31, 65, 79}},         // d = 43
    {8, 50, {1, 3, 1, 1, 19, 11, 3, 205}},         // d = 44
    {8, 52, {1, 1, 5, 9, 19, 21, 29, 157}},        // d = 45
    {8, 56, {1, 3, 7, 11, 1, 33, 89, 185}},        // d = 46
    {8, 67, {1, 3, 3, 3, 15, 9, 79, 71}},          // d = 47
    {8, 70, {1, 3, 7, 11, 15, 39, 119, 27}},       // d = 48
    {8, 84, {1, 1, 3, 1, 11, 31, 97, 225}},        // d = 49
    {8, 97, {1, 1, 1, 3, 23, 43, 57, 177}},        // d = 50
    {8, 103, {1, 3, 7, 7, 17, 17, 37, 71}},        // d = 51
    {8, 115, {1, 3, 1, 5, 27, 63, 123, 213}},      // d = 52
    {8, 122, {1, 1, 3, 5, 11, 43, 53, 133}},       // d = 53
    {9, 8, {1, 3, 5, 5, 29, 17, 47, 173, 479}},    // d = 54
    {9, 13, {1, 3, 3, 11, 3, 1, 109, 9, 69}},      // d = 55
    {9, 16, {1, 1, 1, 5, 17, 39, 23, 5, 343}},     // d = 56
    {9, 22, {1, 3, 1, 5, 25, 15, 31, 103, 499}},   // d = 57
    {9, 25, {1, 1, 1, 11, 11, 17, 63, 105, 183}},  // d = 58
    {9, 44, {1, 1, 5, 11, 9, 29, 97, 231, 363}},   // d = 59
    {9, 47, {1, 1, 5, 15, 19, 45, 41, 7, 383}},    // d = 60
    {9, 52, {1, 3, 7, 7, 31, 19, 83, 137, 221}},   // d = 61
    {9, 55, {1, 1, 1, 3, 23, 15, 111, 223, 83}},   // d = 62
    {9, 59, {1, 1, 5, 13, 31, 15, 55, 25, 161}},   // d = 63
    {9, 62, {1, 1, 3, 13, 25, 47, 39, 87, 257}},   // d = 64
}};

}  // namespace talentsim::sobol
